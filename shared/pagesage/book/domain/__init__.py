"""The book layer's domain: models (`model`), reference rules (`references`), the offset update
algorithm (`offsets`), version ids (`versions`), validation (`validation`), seeding boxes from
OCR (`seeding`, its lines and rules in `layout` and `regions`), inline reference detection
(`detection`)."""
