"""The analysts' workbench (`netwatch serve`): a web face beside the command line, on the same store."""
