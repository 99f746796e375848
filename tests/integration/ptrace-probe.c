/* ptrace-probe PID...: first attaches to a child of its own (the control: ptrace works here), then tries
 * PTRACE_ATTACH on each PID given, printing "PID: attached" or "PID: ERRNO-NAME". Used to show that a process in one
 * container cannot trace another container's processes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *name(int e) { return e == ESRCH ? "ESRCH" : e == EPERM ? "EPERM" : strerror(e); }

static void try_attach(const char *label, pid_t pid)
{
    if (ptrace(PTRACE_ATTACH, pid, 0, 0) == 0) {
        waitpid(pid, NULL, __WALL);
        ptrace(PTRACE_DETACH, pid, 0, 0);
        printf("%s: attached\n", label);
    } else {
        printf("%s: %s\n", label, name(errno));
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    pid_t child = fork();
    if (child == 0) { pause(); _exit(0); }
    try_attach("own-child", child);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    for (int i = 1; i < argc; i++) try_attach(argv[i], (pid_t)atoi(argv[i]));
    return 0;
}
