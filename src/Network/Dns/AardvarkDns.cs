using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using MiniDocker.Linux;

namespace MiniDocker.Network;

/// <summary>
/// Name resolution on user networks with Podman's aardvark-dns, driven the way netavark drives it: a configuration
/// directory per state root with one file per network (first line the gateway, on which aardvark listens on port 53;
/// then one line per container: id, IPv4, IPv6 (empty), and its names comma-separated), the server started when the
/// first file appears, sent SIGHUP on every change, and stopped when the last file goes. Aardvark answers a query only
/// with containers that share a network with the asking address, and forwards other names to the resolvers of its
/// /etc/resolv.conf (the host's).
/// </summary>
public sealed class AardvarkDns
{
    public const string PackagedBinary = "/usr/lib/podman/aardvark-dns";
    public const string RunDirectory = "/run/minidocker/aardvark";
    private const string PidFile = "aardvark.pid";

    private readonly string _lockPath;
    private readonly string _logPath;

    /// <param name="lockPath">serialises this root's syncs: in its state root, so nothing of it stays in /run.</param>
    public AardvarkDns(string scope, string lockPath)
    {
        string name = scope.Length == 0 ? "default" : scope;
        ConfigDirectory = Path.Combine(RunDirectory, name);
        _lockPath = lockPath;
        _logPath = Path.Combine(RunDirectory, name + ".log");
    }

    /// <summary>Where this root's network files and aardvark's pid file live (root-only, 0700).</summary>
    public string ConfigDirectory { get; }

    /// <summary>The server's binary, or null where aardvark-dns is not installed (names then do not resolve).</summary>
    public static string? Binary => File.Exists(PackagedBinary) ? PackagedBinary : ToolRunner.Find("aardvark-dns");

    /// <summary>
    /// Brings the configuration in line with the records (a file per DNS network that has or had containers, with
    /// exactly their names) and the server with the configuration: started if needed and not running (first use, or it
    /// crashed), reloaded if a file changed, stopped if none is left. Idempotent.
    /// </summary>
    public void Sync(IReadOnlyList<NetworkRecord> networks, IReadOnlyList<EndpointRecord> endpoints)
    {
        var wanted = Render(networks, endpoints);
        if (wanted.Count == 0 && !Directory.Exists(ConfigDirectory)) return; // never used: nothing to stop
        // Started on a network's first container, the server then stays while that network exists (its file with no
        // names), so a run after the last `rm` does not pay a new start and its wait to listen (~35 ms of an attach,
        // bench/README stop 18); `network rm` of the last such network stops it.
        if (Directory.Exists(ConfigDirectory))
            foreach (var network in networks.Where(n => n.HasDns && !wanted.ContainsKey(n.Name)))
                if (File.Exists(Path.Combine(ConfigDirectory, network.Name)))
                    wanted[network.Name] = network.Gateway + "\n";
        string? binary = Binary;
        if (binary is null) return;
        StateRoot.PrivateDirectory(RunDirectory);
        StateRoot.PrivateDirectory(Path.GetDirectoryName(_lockPath)!);
        using var _ = FileLock.Acquire(_lockPath);
        StateRoot.PrivateDirectory(ConfigDirectory);
        bool changed = false;
        foreach (var (network, content) in wanted)
        {
            string path = Path.Combine(ConfigDirectory, network);
            if (File.Exists(path) && File.ReadAllText(path) == content) continue;
            // Written beside the directory and renamed in: aardvark reads every file of the directory, a temp file too.
            string temp = Path.Combine(RunDirectory, $".{Path.GetFileName(ConfigDirectory)}-{network}.tmp");
            File.WriteAllText(temp, content);
            File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.Move(temp, path, overwrite: true);
            changed = true;
        }
        foreach (string path in Directory.GetFiles(ConfigDirectory))
        {
            string name = Path.GetFileName(path);
            if (name == PidFile || wanted.ContainsKey(name)) continue;
            File.Delete(path);
            changed = true;
        }

        int? pid = RunningPid();
        if (wanted.Count == 0)
        {
            if (pid is int running) Stop(running);
            try { Directory.Delete(ConfigDirectory, recursive: true); } catch (IOException) { /* recreated meanwhile? next sync */ }
            File.Delete(_logPath);
            return;
        }
        var gateways = wanted.Keys.Select(n => networks.First(r => r.Name == n).Gateway).ToList();
        if (pid is null) Start(binary, gateways);
        else if (changed)
        {
            Libc.kill(pid.Value, Libc.SIGHUP);
            // A network new to the server is listened on after the reload: wait for it as for a start.
            WaitListening(gateways, TimeSpan.FromSeconds(2));
        }
    }

    private bool WaitListening(IReadOnlyList<IPAddress> gateways, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        while (true)
        {
            var listening = UdpListeners();
            if (RunningPid() is not null && gateways.All(listening.Contains)) return true;
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(5);
        }
    }

    /// <summary>Each DNS network's file content, for the networks that have containers.</summary>
    public static SortedDictionary<string, string> Render(IReadOnlyList<NetworkRecord> networks, IReadOnlyList<EndpointRecord> endpoints)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var network in networks.Where(n => n.HasDns))
        {
            var members = endpoints.Where(e => e.Network == network.Name).OrderBy(e => e.ContainerId, StringComparer.Ordinal).ToList();
            if (members.Count == 0) continue;
            NameRules.ValidateNetworkName(network.Name);
            var text = new StringBuilder().Append(network.Gateway).Append('\n');
            foreach (var e in members)
            {
                NameRules.ValidateContainerId(e.ContainerId);
                // Checked again here, whatever wrote the record: one line per container, nothing of a name's own.
                var names = new[] { e.Name }.Concat(e.Aliases ?? []).Append(e.ContainerId[..Math.Min(12, e.ContainerId.Length)])
                    .OfType<string>().Where(IsDnsName).Distinct(StringComparer.Ordinal);
                text.Append(e.ContainerId).Append(' ').Append(e.IP).Append("  ").Append(string.Join(',', names)).Append('\n');
            }
            files[network.Name] = text.ToString();
        }
        return files;
    }

    private static bool IsDnsName(string name)
    {
        try { NetworkOptions.ValidateDnsName(name, "name"); return true; }
        catch (NetworkException) { return false; }
    }

    /// <summary>The pid of this root's server if it runs: the pid file's process, checked by its command line (a pid
    /// reused by another program after a crash is not ours to signal).</summary>
    public int? RunningPid()
    {
        string pidPath = Path.Combine(ConfigDirectory, PidFile);
        if (!File.Exists(pidPath)) return null;
        if (!int.TryParse(File.ReadAllText(pidPath).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) || pid <= 1)
            return null;
        return IsOurs(pid) ? pid : null;
    }

    private bool IsOurs(int pid)
    {
        string[] argv;
        try { argv = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0'); }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
        int config = Array.IndexOf(argv, "--config");
        return argv.Length > 0 && Path.GetFileName(argv[0]) == "aardvark-dns" && config >= 0 && config + 1 < argv.Length
            && argv[config + 1] == ConfigDirectory;
    }

    private void Start(string binary, IReadOnlyList<IPAddress> gateways)
    {
        // aardvark forks; its parent exits once the child is ready, and the child keeps its stdout and stderr:
        // they must not be a pipe of ours (a reader would wait for the server's exit), so they go to a log file.
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        foreach (string a in (string[])["-c", "exec \"$0\" --config \"$1\" -p 53 run </dev/null >>\"$2\" 2>&1", binary, ConfigDirectory, _logPath])
            psi.ArgumentList.Add(a);
        using (var parent = Process.Start(psi) ?? throw new NetworkException("cannot start aardvark-dns"))
        {
            if (!parent.WaitForExit(10_000))
            {
                parent.Kill();
                throw new NetworkException($"aardvark-dns did not start within 10 s (log: {_logPath})");
            }
        }
        // Ready means listening on every gateway: a container's first query must not meet a closed port.
        if (WaitListening(gateways, TimeSpan.FromSeconds(5))) return;
        string log = File.Exists(_logPath) ? File.ReadLines(_logPath).Where(l => !l.StartsWith("failed to connect to syslog", StringComparison.Ordinal)).LastOrDefault() ?? "" : "";
        throw new NetworkException($"aardvark-dns did not start listening on {string.Join(", ", gateways)} port 53" +
            (log.Length > 0 ? $": {log}" : $" (log: {_logPath})"));
    }

    /// <summary>Addresses with a UDP socket bound to port 53 in this network namespace.</summary>
    private static HashSet<IPAddress> UdpListeners()
    {
        var found = new HashSet<IPAddress>();
        foreach (string line in File.ReadLines("/proc/net/udp").Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2) continue;
            var local = fields[1].Split(':');
            if (local.Length != 2 || local[1] != "0035") continue;
            if (uint.TryParse(local[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint raw))
                found.Add(new IPAddress(raw)); // the kernel prints the address in host (little-endian) order
        }
        return found;
    }

    private void Stop(int pid)
    {
        Libc.kill(pid, Libc.SIGTERM);
        for (int i = 0; i < 100 && IsOurs(pid); i++) Thread.Sleep(10);
        if (IsOurs(pid)) Libc.kill(pid, Libc.SIGKILL);
    }
}
