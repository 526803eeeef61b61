"""The HTTP APIs served by several functions each: the route-table machinery (`routing`), the
provenance API's routes (`routes`) and the OpenAPI document (`openapi`)."""
