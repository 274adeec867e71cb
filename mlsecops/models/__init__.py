"""Small torch models, their training loop and their safetensors folder format."""
