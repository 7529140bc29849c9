"""The small teaching problems of Part I: coloured shapes to find (chapter 01) and two
equally good targets for the sampling mode (chapter 06)."""
