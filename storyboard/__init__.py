"""storyboard: a declarative storyboard compiler for generated film."""

__version__ = "0.1.0"
