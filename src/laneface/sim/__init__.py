"""Lane simulator: renders vehicle passages (front and side cameras) with per-frame ground truth and a
gallery manifest, for `laneface bench lane`. Entry point: :func:`laneface.sim.writer.simulate`.

Modules: ``geometry`` (cameras), ``scene`` (vehicles, seats, occupants), ``people`` (LFW identities and
documents), ``faces`` (head sprites, accessories, head pose), ``render`` (frames and face ground truth),
``degrade`` (glass, light, blur, noise, compression), ``variants`` (scene variants: parameter changes on
top of the base scenes), ``writer`` (files).
"""
