package recorder

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// childNice is the nice value of the keyframe child: the lowest priority.
const childNice = 19

// ioprioBestEffortLowest is IOPRIO_PRIO_VALUE(IOPRIO_CLASS_BE, 7): the
// best-effort class's lowest level. Not the idle class, which a busy disk
// could starve for ever.
const ioprioBestEffortLowest = 2<<13 | 7

// lowerPriority lowers every thread of this process to nice 19 and the
// lowest best-effort I/O level. On Linux both are per thread, so each
// thread /proc/self/task lists is lowered, until a pass finds none left
// (a thread created meanwhile is cloned from a lowered one, and inherits
// it). Errors are ignored: the process then runs at normal priority.
func lowerPriority() {
	done := map[int]bool{}
	for pass := 0; pass < 10; pass++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return
		}
		fresh := 0
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || done[tid] {
				continue
			}
			done[tid] = true
			fresh++
			_ = unix.Setpriority(unix.PRIO_PROCESS, tid, childNice)
			_, _, _ = unix.Syscall(unix.SYS_IOPRIO_SET, 1 /* IOPRIO_WHO_PROCESS */, uintptr(tid), ioprioBestEffortLowest)
		}
		if fresh == 0 {
			return
		}
	}
}

// setParentDeath has the child killed when the thread that started it
// ends, which is when this process dies (writeIndexInChild keeps that
// thread, locked, until the child exits: Go may end an unlocked thread).
func setParentDeath(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// lowerThreadPriority lowers the calling thread alone to nice 19 and the
// lowest best-effort I/O level (see lowerPriority). The caller has locked
// its goroutine to the thread and never unlocks it: the thread then ends
// with the goroutine, and no other goroutine ever runs at that priority.
func lowerThreadPriority() {
	tid := unix.Gettid()
	_ = unix.Setpriority(unix.PRIO_PROCESS, tid, childNice)
	_, _, _ = unix.Syscall(unix.SYS_IOPRIO_SET, 1 /* IOPRIO_WHO_PROCESS */, uintptr(tid), ioprioBestEffortLowest)
}
