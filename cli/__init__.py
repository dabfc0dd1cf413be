"""The civledger command line: parse, call one register method, print."""
