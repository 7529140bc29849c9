"""The experiment networks (DESIGN.md §3): MBG, CBAM, VQA, ModularGAN, and their one
attention registry, :mod:`arnn_lite.models.zoo` (name -> module)."""
