using System.Runtime.InteropServices;
using MiniDocker.Linux;
using static MiniDocker.Linux.Libc;

namespace MiniDocker.Runtime;

/// <summary>`minidocker run` without -d: the CLI process stays with the container, proxies signals to it and
/// returns its exit status.</summary>
public static class Foreground
{
    public static int Run(Launcher launcher, ContainerConfig config)
    {
        // This process looks after the container until it ends (see ContainerStore): stop, rm and ps can tell.
        using var owner = launcher.Store.Claim(config.Id, TimeSpan.FromSeconds(2));
        // SIGINT/SIGTERM/SIGHUP/SIGQUIT to minidocker go to the container's program (Docker's sig-proxy); the program
        // decides. A PID 1 without a handler ignores them, as in Docker. The handlers are in place before the
        // program starts, so a signal sent the moment it prints its first line is not lost; one that arrives while
        // the container is still being set up is delivered once the program runs.
        int pid = 0;
        var early = new System.Collections.Concurrent.ConcurrentQueue<int>();
        var proxies = new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT }
            .Select(s => PosixSignalRegistration.Create(s, ctx =>
            {
                ctx.Cancel = true;
                int target = Volatile.Read(ref pid);
                if (target > 0) kill(target, SignalNumber(ctx.Signal));
                else early.Enqueue(SignalNumber(ctx.Signal));
            })).ToList();
        try
        {
            var running = launcher.Start(config, new Stdio());
            Volatile.Write(ref pid, running.Pid);
            while (early.TryDequeue(out int sig)) kill(running.Pid, sig);
            if (running.PtyMaster is { } master)
            {
                using (master)
                using (var terminal = new Terminal(master))
                    terminal.Relay(config.Interactive);
            }
            return running.Wait();
        }
        finally
        {
            foreach (var p in proxies) p.Dispose();
        }
    }

    private static int SignalNumber(PosixSignal s) => s switch
    {
        PosixSignal.SIGINT => 2,
        PosixSignal.SIGTERM => 15,
        PosixSignal.SIGHUP => 1,
        PosixSignal.SIGQUIT => 3,
        _ => (int)s,
    };
}
