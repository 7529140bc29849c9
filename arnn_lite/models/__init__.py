"""The experiment networks (DESIGN.md §3): MBG, CBAM, VQA, ModularGAN."""
