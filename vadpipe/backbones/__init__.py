"""I3D backbones: their specs and builders (:mod:`.registry`) and input preprocessing (:mod:`.preprocess`)."""
