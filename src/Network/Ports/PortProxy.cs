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
    /// prints "ready", then relays each connection to TARGET:CTRPORT until killed or its pid file is gone (the run that
    /// started it died before recording it, or the state root was deleted).
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
        Console.Out.WriteLine("ready");
        Console.Out.Flush();
        foreach (var (socket, containerPort) in listeners)
            _ = Task.Run(() => AcceptLoop(socket, new IPEndPoint(target, containerPort)));
        // The starter records the pid file right after starting this process; give it time before watching it.
        for (int i = 0; i < 200 && !File.Exists(pidPath); i++) Thread.Sleep(50);
        while (File.Exists(pidPath)) Thread.Sleep(2000);
        return 0;
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
