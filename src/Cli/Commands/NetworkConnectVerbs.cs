using System.CommandLine;
using MiniDocker.Linux;
using MiniDocker.Network;
using MiniDocker.Runtime;
using MiniDocker.Runtime.Native;

namespace MiniDocker.Cli.Commands;

/// <summary>`network connect`, `network disconnect` and `network prune`.</summary>
public static class NetworkConnectVerbs
{
    public static IEnumerable<Command> Create() => [Connect(), Disconnect(), Prune()];

    private static Command Connect()
    {
        var ip = new Option<string?>("--ip") { Description = "IPv4 address on the network" };
        var ip6 = new Option<string?>("--ip6") { Description = "IPv6 address on the network (a dual-stack one)" };
        var alias = new Option<string[]>("--alias") { Description = "Add a name the container resolves by on this network" };
        var network = new Argument<string>("NETWORK");
        var container = new Argument<string>("CONTAINER");
        var connect = new Command("connect", "Connect a running container to a network (its next ethN appears live)")
        { ip, ip6, alias, network, container };
        connect.SetAction(p =>
        {
            var entry = Globals.Containers(p).Find(p.GetValue(container)!);
            var config = entry.Config;
            if (config.NetworkMode is "host" or "none")
                throw new NetworkException($"container {config.ShortId} is in network mode {config.NetworkMode}: it cannot be connected to a network");
            string name = p.GetValue(network)!;
            if (name is "host" or "none")
                throw new NetworkException($"container cannot be connected to network mode {name}");
            var aliases = (p.GetValue(alias) ?? []).ToList();
            foreach (string a in aliases) NetworkOptions.ValidateDnsName(a, "--alias");
            using var netns = OpenNetns(entry);
            // The namespace is held by its fd from here on: a container that stops meanwhile cannot swap in another's.
            Globals.Networks(p).Connect(config.Id, name, $"/proc/self/fd/{netns.DangerousGetHandle()}", p.GetValue(ip), [],
                config.Name, aliases, containerIfName: null, defaultRoute: false, requestedIp6: p.GetValue(ip6));
            return 0;
        });
        return connect;
    }

    /// <summary>The running container's network namespace, opened and then checked to be still its process's.</summary>
    private static Fd OpenNetns(ContainerStore.Entry entry)
    {
        var state = entry.State;
        if (state.Pid <= 0 || !ProcessHandle.IsAlive(state.Pid, state.PidStartTime))
            throw new NetworkException($"container {entry.Config.ShortId} is not running");
        var fd = Fd.Open($"/proc/{state.Pid}/ns/net", Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (!ProcessHandle.IsAlive(state.Pid, state.PidStartTime))
        {
            fd.Dispose();
            throw new NetworkException($"container {entry.Config.ShortId} is not running");
        }
        return fd;
    }

    /// <summary>The container's network namespace if it is running; null if it is not (its links went with it).</summary>
    private static Fd? TryOpenNetns(ContainerStore.Entry entry)
    {
        try { return OpenNetns(entry); }
        catch (Exception e) when (e is NetworkException or MiniDockerException) { return null; }
    }

    private static Command Disconnect()
    {
        var force = new Option<bool>("--force", "-f") { Description = "Also for a container that no longer exists (by id or id prefix)" };
        var network = new Argument<string>("NETWORK");
        var container = new Argument<string>("CONTAINER");
        var disconnect = new Command("disconnect", "Disconnect a container from a network (its interface vanishes live)")
        { force, network, container };
        disconnect.SetAction(p =>
        {
            string reference = p.GetValue(container)!;
            var manager = Globals.Networks(p);
            string id;
            try { id = Globals.Containers(p).Find(reference).Config.Id; }
            catch (ContainerException) when (p.GetValue(force))
            {
                var matches = manager.Endpoints(p.GetValue(network)!).Where(e => e.ContainerId.StartsWith(reference, StringComparison.Ordinal)
                    || e.Name == reference).ToList();
                if (matches.Count != 1) throw;
                id = matches[0].ContainerId;
            }
            // A macvlan or ipvlan link has no host end: it is deleted inside the running container's namespace.
            var entry = Globals.Containers(p).List().FirstOrDefault(c => c.Config.Id == id);
            using var netns = entry is null ? null : TryOpenNetns(entry);
            manager.DisconnectFrom(id, p.GetValue(network)!, netns is null ? null : $"/proc/self/fd/{netns.DangerousGetHandle()}");
            return 0;
        });
        return disconnect;
    }

    private static Command Prune()
    {
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var prune = new Command("prune", "Remove all user networks no container is connected to") { force };
        prune.SetAction(p =>
        {
            if (!p.GetValue(force))
            {
                if (Console.IsInputRedirected)
                    throw new NetworkException("network prune removes every unused network: confirm on a terminal, or pass -f");
                Console.Write("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ");
                if (Console.ReadLine()?.Trim().ToLowerInvariant() is not ("y" or "yes")) return 0;
            }
            var removed = Globals.Networks(p).Prune();
            if (removed.Count > 0)
            {
                Console.WriteLine("Deleted Networks:");
                foreach (var n in removed) Console.WriteLine(n);
            }
            return 0;
        });
        return prune;
    }
}

/// <summary>`network ls --filter`: label=K, label=K=V, name=SUBSTRING, driver=D (Docker's keys).</summary>
public static class NetworkFilters
{
    public static Func<NetworkRecord, bool> Parse(string filter)
    {
        var kv = filter.Split('=', 2);
        if (kv.Length != 2) throw new NetworkException($"bad format of filter (expected name=value): {filter}");
        string value = kv[1];
        return kv[0] switch
        {
            "label" => value.Split('=', 2) is [var k, var v]
                ? n => n.Labels is { } l && l.TryGetValue(k, out var have) && have == v
                : n => n.Labels is { } l && l.ContainsKey(value),
            "name" => n => n.Name.Contains(value, StringComparison.Ordinal),
            "driver" => n => n.Driver == value,
            _ => throw new NetworkException($"invalid filter '{kv[0]}': use label, name or driver"),
        };
    }

    public static string LabelText(NetworkRecord n) =>
        string.Join(',', (n.Labels ?? new Dictionary<string, string>()).Select(l => $"{l.Key}={l.Value}"));
}
