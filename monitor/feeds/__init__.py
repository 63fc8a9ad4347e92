"""The feeds stage: fetch, decompress, parse (RSS, Atom, RDF, JSON Feed), full text, polling."""
