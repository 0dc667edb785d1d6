"""Pure text transforms: bytes or str in, bytes or str out, no I/O."""
