"""The daily quality report: queries over the warehouse, matplotlib SVG charts, and the page that puts them together."""
