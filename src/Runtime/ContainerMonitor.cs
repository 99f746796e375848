using System.Text;
using System.Text.Json;
using MiniDocker.Runtime.Native;
using static MiniDocker.Runtime.Native.Libc;

namespace MiniDocker.Runtime;

/// <summary>
/// Detached containers (`run -d`): a small monitor process per container, in the spirit of podman's conmon. It is
/// minidocker re-executed as `minidocker monitor ID` in a session of its own; it starts the container, tells the
/// CLI "started" (or the error) over a pipe at fd 3, then owns the container's stdio, writes the log as JSON lines
/// (Docker's json-file format) and records the exit status when the program ends.
/// </summary>
public static class ContainerMonitor
{
    public const int ReportFd = 3;

    /// <summary>CLI side: spawn the monitor and wait until the container runs or failed.</summary>
    public static void StartDetached(string stateRoot, ContainerConfig config)
    {
        var (reportRead, reportWrite) = Fd.Pipe();
        using var devNull = Fd.Open("/dev/null", O_RDWR);
        var (path, argv) = SelfExe.Command();
        argv.AddRange(["--root", stateRoot, "monitor", config.Id]);
        var env = Spawn.HostEnvironment();
        using (reportWrite)
            Spawn.Start(path, argv, env, [(devNull.Value, 0), (devNull.Value, 1), (devNull.Value, 2), (reportWrite.Value, ReportFd)], newSession: true);
        using (reportRead)
        {
            var report = new SyncChannel(reportRead.Value, -1).Receive();
            if (report == "started") return;
            var parts = report?.Split(' ', 3);
            if (parts is { Length: 3 } && parts[0] == SyncMessage.Error && int.TryParse(parts[1], out int code))
                throw new ContainerException(parts[2], code);
            throw new ContainerException("the container's monitor exited before starting it");
        }
    }

    /// <summary>Monitor side: owns the container until it ends for good, restarting it as its policy says.</summary>
    public static int Run(Launcher launcher, ContainerStore store, string id)
    {
        var reporter = new SyncChannel(-1, ReportFd);
        bool reported = false;
        IDisposable? owner = null;
        try
        {
            try { owner = store.Claim(id, TimeSpan.FromSeconds(2)); }
            catch (ContainerException) when (!Directory.Exists(store.DirectoryOf(id)))
            {
                throw new ContainerException($"container {id[..12]} was removed before it started");
            }
            var config = store.LoadConfig(id) ?? throw new ContainerException($"no such container: {id}");
            store.UpdateState(id, s => s.MonitorPid = Environment.ProcessId);
            using var log = new JsonLog(Path.Combine(store.DirectoryOf(id), "container.log"));
            int quickExits = 0;
            while (true)
            {
                var startedAt = DateTime.UtcNow;
                var (running, readers) = StartLogged(launcher, config, log);
                if (!reported)
                {
                    // A CLI killed while waiting for this is no reason to abandon a container that runs.
                    try { reporter.Send("started"); } catch (SyscallException) { }
                    close(ReportFd);
                    reported = true;
                }
                bool restart = false;
                int code = running.Wait(s =>
                {
                    restart = config.RestartPolicy.ShouldRestart(s.ExitCode, s.RestartCount, s.StopRequested);
                    if (!restart) return;
                    s.Status = ContainerStatus.Restarting;
                    s.RestartCount++;
                });
                foreach (var t in readers) t.Join(TimeSpan.FromSeconds(2));
                if (!restart)
                {
                    if (config.AutoRemove) store.Delete(id);
                    return code;
                }
                quickExits = DateTime.UtcNow - startedAt < TimeSpan.FromSeconds(10) ? quickExits + 1 : 0;
                if (!SleepUnlessStopped(store, id, RestartPolicy.Delay(quickExits - 1)))
                {
                    store.UpdateState(id, s => s.Status = ContainerStatus.Exited);
                    return code;
                }
            }
        }
        catch (Exception e)
        {
            int code = e is ContainerException ce ? ce.ExitCode : ExitCodes.RuntimeError;
            // A container that never ran is not left behind, as with a foreground run; one that ran before keeps its
            // record and the error. One being stopped or removed is left to the command doing that. Removed before
            // the error is reported: the CLI exits on the report, and the user must not see a half-made container.
            if (owner is not null && store.LoadState(id) is { StartedAt: null, StopRequested: false }) store.Delete(id);
            if (!reported)
            {
                try { reporter.Send($"{SyncMessage.Error} {code} {e.Message}"); } catch (SyscallException) { }
            }
            return code;
        }
        finally
        {
            owner?.Dispose();
        }
    }

    private static (RunningContainer, List<Thread>) StartLogged(Launcher launcher, ContainerConfig config, JsonLog log)
    {
        var readers = new List<Thread>();
        if (config.Tty)
        {
            var running = launcher.Start(config, new Stdio());
            var master = running.PtyMaster!;
            readers.Add(log.Pump(master.Value, "stdout", master));
            return (running, readers);
        }
        var (outRead, outWrite) = Fd.Pipe();
        var (errRead, errWrite) = Fd.Pipe();
        RunningContainer started;
        try
        {
            using (outWrite)
            using (errWrite)
                started = launcher.Start(config, new Stdio(Out: outWrite.Value, Err: errWrite.Value));
        }
        catch
        {
            outRead.Dispose();
            errRead.Dispose();
            throw;
        }
        readers.Add(log.Pump(outRead.Value, "stdout", outRead));
        readers.Add(log.Pump(errRead.Value, "stderr", errRead));
        return (started, readers);
    }

    /// <summary>The back-off before a restart; false when the user stopped the container meanwhile.</summary>
    private static bool SleepUnlessStopped(ContainerStore store, string id, TimeSpan delay)
    {
        var deadline = DateTime.UtcNow + delay;
        while (true)
        {
            if (store.LoadState(id) is not { StopRequested: false }) return false;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return true;
            Thread.Sleep(left < TimeSpan.FromMilliseconds(50) ? left : TimeSpan.FromMilliseconds(50));
        }
    }

    /// <summary>Docker's json-file log: one object per line, {"log":"text\n","stream":"stdout","time":"…"}.</summary>
    private sealed class JsonLog(string path) : IDisposable
    {
        private readonly FileStream _file = new(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        private readonly Lock _lock = new();

        public Thread Pump(int fd, string stream, IDisposable owner)
        {
            var t = new Thread(() =>
            {
                using (owner) Copy(fd, stream);
            }) { IsBackground = true, Name = "log " + stream };
            t.Start();
            return t;
        }

        private unsafe void Copy(int fd, string stream)
        {
            var pending = new List<byte>();
            byte[] buf = new byte[16384];
            while (true)
            {
                nint n;
                fixed (byte* p = buf) n = read(fd, p, buf.Length);
                if (n < 0 && Errno == 4) continue;
                if (n <= 0) break; // EOF, or EIO from a pty master whose slave side is gone
                for (int i = 0; i < n; i++)
                {
                    pending.Add(buf[i]);
                    if (buf[i] == '\n') { Write(stream, pending); pending.Clear(); }
                }
                if (pending.Count > 16384) { Write(stream, pending); pending.Clear(); }
            }
            if (pending.Count > 0) Write(stream, pending);
        }

        private void Write(string stream, List<byte> text)
        {
            var ms = new MemoryStream();
            using (var w = new Utf8JsonWriter(ms))
            {
                w.WriteStartObject();
                w.WriteString("log", Encoding.UTF8.GetString(text.ToArray()));
                w.WriteString("stream", stream);
                w.WriteString("time", DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ"));
                w.WriteEndObject();
            }
            ms.WriteByte((byte)'\n');
            lock (_lock)
            {
                _file.Write(ms.GetBuffer(), 0, (int)ms.Length);
                _file.Flush();
            }
        }

        public void Dispose() => _file.Dispose();
    }
}
