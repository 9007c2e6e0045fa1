"""The backbone session: device, precision and engine resolved once, the backbone built once (:mod:`.backbone`),
its forward pass (:mod:`.runner`) and precisions (:mod:`.precision`)."""
