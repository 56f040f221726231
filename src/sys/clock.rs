//! Reading the clocks timers run on (through the vDSO: no system call).
