"""pipec's compiler: parse, analyse, trace and emit. Imported only by `pipec build` and `pipec check`."""
