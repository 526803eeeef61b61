"""The book layer's domain: models (`model`), reference rules (`references`), the offset update
algorithm (`offsets`), version ids (`versions`), validation (`validation`), seeding boxes from
OCR (`seeding`, `detection`)."""
