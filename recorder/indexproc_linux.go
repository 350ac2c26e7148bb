package recorder

import (
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// childNice is the nice value of the keyframe child: the lowest priority.
const childNice = 19

// ioprioBestEffortLowest is IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 7): the
// best-effort class's lowest level. Not the idle class, which a busy disk
// could starve for ever.
const ioprioBestEffortLowest = 2<<13 | 7

// lowerThreadPriority lowers the calling OS thread's CPU and I/O priority,
// which a process it starts inherits. On Linux both are per thread: a
// setpriority(PRIO_PROCESS, 0) in the child once it runs would reach only
// its first thread, not the Go runtime's others. Errors are ignored (the
// child then runs at normal priority).
func lowerThreadPriority() {
	tid := unix.Gettid()
	_ = unix.Setpriority(unix.PRIO_PROCESS, tid, childNice)
	_, _, _ = unix.Syscall(unix.SYS_IOPRIO_SET, 1 /* IOPRIO_WHO_PROCESS */, uintptr(tid), ioprioBestEffortLowest)
}

// setParentDeath has the child killed when the thread that started it
// ends, which is when this process dies (writeIndexInChild keeps that
// thread until the child exits).
func setParentDeath(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
