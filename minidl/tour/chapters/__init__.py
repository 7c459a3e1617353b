"""Tour chapters, one module each; every module registers itself with ``@chapter``."""
