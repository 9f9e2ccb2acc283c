"""HarmAug distillation pipeline for EdgeGuard guard models."""
