"""The floor: value types that every layer shares, importing nothing of vadpipe but errors and ranges.

- :mod:`~vadpipe.core.backbone_facts`: what each backbone is (feature size, preprocessing, default crops),
  without building it;
- :mod:`~vadpipe.core.feature_spec`: the feature spec, crop orders, tail policies, resize modes;
- :mod:`~vadpipe.core.forward`: how a backbone's forward passes run (device, precision, engine, batch);
- :mod:`~vadpipe.core.band`: the attention band of live scoring.

See docs/architecture.md for the floors above it.
"""
