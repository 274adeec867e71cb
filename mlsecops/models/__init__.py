"""Torch models: the net registry (`nets`), seeded training and the safetensors folder (`training`), and
the only way to load one, after its signature and scan pass (`loading.load_verified_model`).
"""
