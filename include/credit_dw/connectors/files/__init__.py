"""The file-drop connector: delivered CSV / XLSX files into the batch's landing file."""
