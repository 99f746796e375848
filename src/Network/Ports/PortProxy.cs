using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using MiniDocker.Linux;

namespace MiniDocker.Network;

/// <summary>
/// A published TCP port on the host's IPv6 addresses, [::1] first, by a small relay process per container and network
/// (what Docker's docker-proxy does). Why a process and not DNAT: an IPv6 packet from ::1 may never leave loopback
/// (IPv6 has no route_localnet), so `curl http://localhost:8080/`, which tries [::1] first, cannot be DNAT'ed to a
/// container; and a container without IPv6 has no address for an ip6tables DNAT at all. The relay listens on
/// [::]:HOSTPORT (IPV6_V6ONLY, so the IPv4 side stays with the DNAT rules) for mappings published on all addresses,
/// and connects to the container's IPv4 address. For a dual-stack container the ip6tables/nftables DNAT rules take
/// everything but [::1] before it reaches the relay (PREROUTING and OUTPUT run before the socket lookup); so the relay
/// answers [::1] for every container and the host's other IPv6 addresses for IPv4-only ones. UDP is not relayed.
/// The relay also holds the port on IPv6: a host process cannot take [::]:8080 from under a published 8080.
/// </summary>
public sealed class PortProxy(string stateRoot)
{
    /// <summary>Set by the CLI: the minidocker binary, which serves <c>port-proxy</c> (see <see cref="Serve"/>). Null
    /// (library use, unit tests): no relay is started, and stopping still works.</summary>
    public static string? Executable { get; set; }

    public const string Verb = "port-proxy";

    private readonly string _directory = Path.Combine(stateRoot, "networks", "proxies");

    /// <summary>Starts the relay of a container's mappings on one network and returns when it listens; throws (one line)
    /// when a port is taken on IPv6. Nothing to do without TCP mappings on all addresses, or on a host without IPv6.</summary>
    public void Start(string containerId, string network, IReadOnlyList<PortMapping> ports, IPAddress target)
    {
        var maps = ports.Where(m => m.HostIp is null && m.Protocol == "tcp").Select(m => $"{m.HostPort}:{m.ContainerPort}").Distinct().ToList();
        if (maps.Count == 0 || Executable is null || !Socket.OSSupportsIPv6 || !Directory.Exists("/proc/sys/net/ipv6")) return;
        NameRules.ValidateContainerId(containerId);
        string pidPath = PidPath(containerId, network);
        Directory.CreateDirectory(Path.GetDirectoryName(pidPath)!);
        var psi = new ProcessStartInfo(Executable)
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (string a in new[] { Verb, pidPath, target.ToString() }.Concat(maps)) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new NetworkException("cannot start the IPv6 port relay");
        // Recorded before it is ready: a run killed from here on leaves a file `rm` or reconcile finds; a run killed
        // before this line leaves a relay that exits by itself (it watches this file).
        AtomicFile.Write(pidPath, System.Text.Encoding.ASCII.GetBytes(process.Id.ToString(CultureInfo.InvariantCulture)), fsyncDirectory: false);
        process.StandardInput.Close();
        var ready = process.StandardOutput.ReadLineAsync();
        if (ready.Wait(TimeSpan.FromSeconds(10)) && ready.Result == "ready") return;
        string error = process.HasExited ? process.StandardError.ReadToEnd().Trim() : "no answer within 10 s";
        Stop(containerId, network);
        throw new NetworkException(error.Length > 0 ? error : "the IPv6 port relay failed");
    }

    /// <summary>Stops the relay of a container on one network if one runs; idempotent. Only a process whose command line
    /// is our relay's for this very file is signalled (a pid may have been reused after a reboot).</summary>
    public void Stop(string containerId, string network)
    {
        string pidPath;
        try { pidPath = PidPath(containerId, network); }
        catch (NetworkException) { return; }
        if (!File.Exists(pidPath)) return;
        if (int.TryParse(File.ReadAllText(pidPath).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 1 && IsRelay(pid, pidPath))
        {
            Libc.kill(pid, Libc.SIGKILL);
            // Its listening sockets close when it is dead: the same port may be published again right after.
            for (int i = 0; i < 200 && IsRelay(pid, pidPath) && !IsZombie(pid); i++) Thread.Sleep(5);
        }
        File.Delete(pidPath);
        try { Directory.Delete(Path.GetDirectoryName(pidPath)!); }
        catch (IOException) { /* another container's relay on this network */ }
    }

    private static bool IsRelay(int pid, string pidPath)
    {
        try
        {
            string[] argv = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            return argv.Length > 2 && argv[1] == Verb && argv[2] == pidPath;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is 'Z' or 'X';
        }
        catch (IOException) { return true; }
    }

    private string PidPath(string containerId, string network)
    {
        NameRules.ValidateNetworkName(network);
        NameRules.ValidateContainerId(containerId);
        return Path.Combine(_directory, network, containerId + ".pid");
    }

    /// <summary>
    /// The relay process: <c>port-proxy PIDFILE TARGET HOSTPORT:CTRPORT...</c>. Binds every [::]:HOSTPORT (v6 only),
    /// opens its pid file, drops root for good (see <see cref="DropPrivileges"/>), prints "ready", then relays each
    /// connection to TARGET:CTRPORT until killed or its pid file is gone (the run that started it died before
    /// recording it, or the state root was deleted). It never binds again: a restarted container gets a new relay.
    /// </summary>
    public static int Serve(string[] args)
    {
        if (args.Length < 3 || !IPAddress.TryParse(args[1], out IPAddress? target))
        {
            Console.Error.WriteLine("usage: port-proxy PIDFILE TARGET HOSTPORT:CTRPORT...");
            return 2;
        }
        // Its own session: no terminal's Ctrl-C or hangup reaches it when the run that started it was in the foreground.
        Libc.setsid();
        string pidPath = args[0];
        var listeners = new List<(Socket Socket, int ContainerPort)>();
        foreach (string map in args[2..])
        {
            var parts = map.Split(':');
            int hostPort = int.Parse(parts[0], CultureInfo.InvariantCulture), containerPort = int.Parse(parts[1], CultureInfo.InvariantCulture);
            var socket = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.IPv6Only, true);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.IPv6Any, hostPort));
                socket.Listen(512);
            }
            catch (SocketException e)
            {
                Console.Error.WriteLine(e.SocketErrorCode == SocketError.AddressAlreadyInUse
                    ? $"port {hostPort}/tcp is already allocated (bound on IPv6 by another process)"
                    : $"cannot listen on [::]:{hostPort}: {e.Message}");
                return 1;
            }
            listeners.Add((socket, containerPort));
        }
        // The file is watched by descriptor (unlinked: nlink 0), as nobody cannot look it up in root's 0700 state
        // directory.
        using Fd? pidFile = OpenOwnPidFile(pidPath);
        if (pidFile is null) return 0; // the run that started it died before recording it
        try { DropPrivileges(); }
        catch (MiniDockerException e)
        {
            // Refused rather than relaying as root: the starter reports this line and publishes nothing.
            Console.Error.WriteLine($"the IPv6 port relay cannot drop root: {e.Message}");
            return 1;
        }
        Console.Out.WriteLine("ready");
        Console.Out.Flush();
        foreach (var (socket, containerPort) in listeners)
            _ = Task.Run(() => AcceptLoop(socket, new IPEndPoint(target, containerPort)));
        while (IsLinked(pidFile)) Thread.Sleep(2000);
        return 0;
    }

    /// <summary>The pid file once it names this process, or null after 10 s. The starter records it right after
    /// starting this process, before it waits for "ready"; until then the path may hold a stale file a crashed run
    /// left, which the starter's rename replaces (watching that one would stop the relay at once).</summary>
    private static unsafe Fd? OpenOwnPidFile(string pidPath)
    {
        string self = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        byte* buffer = stackalloc byte[32];
        for (int i = 0; i < 1000; i++)
        {
            int raw = Libc.open(pidPath, Libc.O_RDONLY | Libc.O_CLOEXEC, 0);
            if (raw >= 0)
            {
                var fd = new Fd(raw, pidPath);
                nint n = Libc.read(raw, buffer, 32);
                if (n > 0 && System.Text.Encoding.ASCII.GetString(buffer, (int)n).Trim() == self) return fd;
                fd.Dispose();
            }
            Thread.Sleep(10);
        }
        return null;
    }

    /// <summary>nobody/nogroup: accepting on sockets already bound and connecting out to the container need no privilege.</summary>
    private const uint Nobody = 65534;

    /// <summary>
    /// For the container's life the relay reads bytes a hostile client sends; a flaw in it must not be root's. No
    /// supplementary groups, gid and uid nobody (real, effective and saved: leaving uid 0 for good makes the kernel
    /// clear the permitted, effective and ambient capabilities), and no new privileges (a setuid program it were made
    /// to execute would not run as its owner). glibc applies setgroups, setresgid and setresuid to every thread (the
    /// runtime has several by now). Dumpable is left as the kernel sets it on a credential change (off), so another
    /// nobody process cannot ptrace it or read its memory.
    /// </summary>
    private static unsafe void DropPrivileges()
    {
        Libc.Check(Libc.setgroups(0, null), "setgroups");
        Libc.Check(Libc.setresgid(Nobody, Nobody, Nobody), "setresgid");
        Libc.Check(Libc.setresuid(Nobody, Nobody, Nobody), "setresuid");
        Libc.Check(Libc.prctl(Libc.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
        // PR_SET_NO_NEW_PRIVS is per thread, and the runtime started its finalizer and signal threads before Main. A
        // seccomp filter loaded with TSYNC sets no_new_privs on every thread of the process (the kernel's
        // seccomp_sync_threads); the filter itself allows everything.
        var allowAll = new SockFilter { Code = 0x06 /* BPF_RET | BPF_K */, K = Libc.SECCOMP_RET_ALLOW };
        var program = new SockFprog { Length = 1, Filter = &allowAll };
        // With TSYNC, a thread that could not be synchronised is returned as a positive thread id.
        long synced = Libc.syscall(Libc.SYS_seccomp, Libc.SECCOMP_SET_MODE_FILTER, Libc.SECCOMP_FILTER_FLAG_TSYNC, &program);
        if (synced != 0)
            throw synced > 0 ? new MiniDockerException($"seccomp(SECCOMP_FILTER_FLAG_TSYNC): thread {synced} could not be synchronised")
                             : SyscallException.Last("seccomp(SECCOMP_FILTER_FLAG_TSYNC)");
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct SockFilter { public ushort Code; public byte JumpTrue, JumpFalse; public uint K; }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private unsafe struct SockFprog { public ushort Length; public SockFilter* Filter; }

    private static unsafe bool IsLinked(Fd file)
    {
        Tmds.Linux.stat st;
        return Libc.fstat(file.Value, &st) == 0 && st.st_nlink > 0;
    }

    private static async Task AcceptLoop(Socket listener, IPEndPoint target)
    {
        while (true)
        {
            Socket client;
            try { client = await listener.AcceptAsync(); }
            catch (SocketException) { continue; }
            _ = Task.Run(() => Relay(client, target));
        }
    }

    private static async Task Relay(Socket client, IPEndPoint target)
    {
        using (client)
        using (var upstream = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp))
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await upstream.ConnectAsync(target, timeout.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException) { return; }
            // Each direction half-closes the other when it ends, so a request-then-EOF client still gets its answer.
            await Task.WhenAll(Pump(client, upstream), Pump(upstream, client));
        }
    }

    private static async Task Pump(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await from.ReceiveAsync(buffer, SocketFlags.None)) > 0)
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None);
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            try { to.Shutdown(SocketShutdown.Both); } catch (Exception x) when (x is SocketException or ObjectDisposedException) { }
        }
    }
}
