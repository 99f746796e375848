/*
 * minidocker's entry point (NativeAOT CustomNativeMain). One role is served in C before the .NET runtime starts:
 * the relay of a running detached container (src/Runtime/Native/monitor-relay.c says why). Everything else goes
 * to the managed Main; NativeAOT initialises its runtime on that first call.
 */
#include <string.h>

extern int __managed__Main(int argc, char *argv[]);
extern int minidocker_monitor_relay(int argc, char *argv[]);

int main(int argc, char *argv[])
{
    /* The verb MonitorRelay.Verb (src/Runtime/MonitorRelay.cs) execs into. */
    if (argc > 1 && strcmp(argv[1], "monitor-relay") == 0)
        return minidocker_monitor_relay(argc, argv);
    return __managed__Main(argc, argv);
}
