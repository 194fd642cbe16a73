"""Fine-tuning a pretrained backbone with torch: the recipe, the data, the network, checkpoints and the run.

Nothing here is imported by ``import tetsuban``; torch loads only when a fine-tuning run starts.
"""
