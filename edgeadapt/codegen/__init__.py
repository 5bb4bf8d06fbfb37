"""The exporter: schedule and fusion, static memory planning, C emission, manifest, validation."""
