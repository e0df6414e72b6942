//! A local, stateful WeCom emulator (to be written).
