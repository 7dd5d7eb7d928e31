"""The daily quality report: queries over the warehouse, SVG charts, and the page that puts them together."""
