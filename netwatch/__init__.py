"""netwatch: watch online shops and listings for violations, hand regulators a list of leads."""

__version__ = "0.1.0"
