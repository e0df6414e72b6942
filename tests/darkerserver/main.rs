//! End-to-end: darkerserver (`integrations/darkerserver/darkerserver.py`, a child process) adds
//! users and notifies through the real relay (in-process, port 0) to the WeCom emulator
//! (in-process, port 0). Also runs darkerserver's Python unit tests.

mod helpers;
mod notify;
mod off_path;
mod python;
