"""The static review site (``storyboard review``): templates and static files ship as package data."""
