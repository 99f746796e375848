using System.CommandLine;
using MiniDocker.Runtime;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker system prune [-f]`: removes stopped containers, cleans up crashed ones (their network
/// attachment included) and the half-made directories of runs killed while creating. `minidocker system reset [-f]`:
/// removes everything of the state root, on the host and on disk.</summary>
public static class SystemCommand
{
    /// <summary>What minidocker makes directly under a state root; `system reset` removes these and nothing else.</summary>
    private static readonly string[] StateEntries = ["containers", "networks", "images", "trash", "config", "daemon.json"];

    public static Command Create()
    {
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var prune = new Command("prune", "Remove stopped containers and clean up after crashed ones") { force };
        prune.SetAction(p =>
        {
            if (!p.GetValue(force))
            {
                Console.Write("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
                if (Console.ReadLine()?.Trim().ToLowerInvariant() is not ("y" or "yes")) return 0;
            }
            var result = LifecycleVerbs.WithHooks(p).Prune();
            // What no container record points to any more (a run killed before its directory was written, a state
            // root edited by hand): endpoints, addresses and rules of containers that do not exist; and network
            // removals a crash interrupted.
            Globals.Networks(p).Reconcile();
            if (result.Removed.Count > 0)
            {
                Console.WriteLine("Deleted Containers:");
                foreach (var id in result.Removed) Console.WriteLine(id);
                Console.WriteLine();
            }
            Console.WriteLine($"Total reclaimed space: {ImageCommands.HumanSize(result.ReclaimedBytes)}");
            return 0;
        });

        var resetForce = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation" };
        var reset = new Command("reset",
            "Remove every container, network, bridge, firewall rule and address of this state root, then its state") { resetForce };
        reset.SetAction(p => Reset(p, p.GetValue(resetForce)));

        return new Command("system", "Manage minidocker") { prune, reset };
    }

    private static int Reset(ParseResult p, bool force)
    {
        string root = Globals.StateRoot(p);
        if (!force)
        {
            // A script (no terminal to answer on) must say -f: an unanswered prompt must never read as a yes or hang.
            if (Console.IsInputRedirected)
                throw new ContainerException($"system reset removes everything of state root {root}: confirm on a terminal, or pass -f");
            Console.Write($"WARNING! This will remove all containers, networks, images and the state of {root},\n" +
                "with their bridges, firewall rules and addresses on this host.\nAre you sure you want to continue? [y/N] ");
            if (Console.ReadLine()?.Trim().ToLowerInvariant() is not ("y" or "yes")) return 0;
        }

        var lifecycle = LifecycleVerbs.WithHooks(p);
        var failed = new List<string>();
        foreach (var entry in Globals.Containers(p).List())
        {
            try
            {
                lifecycle.Remove(entry.Config.Id, force: true);
                Console.WriteLine($"Deleted container {entry.Config.ShortId}");
            }
            catch (ContainerException e) { failed.Add($"{entry.Config.ShortId}: {e.Message}"); }
        }
        var networks = Globals.Networks(p);
        // Every network, bridge, rule and address of this root, also what containers that could not be removed hold.
        networks.RemoveEverything();
        if (failed.Count > 0)
            throw new ContainerException($"system reset: {failed.Count} container(s) could not be removed, the state of {root} is kept ({failed[0]})");

        RemoveState(root);
        // Last: until here an orphan sweep could still place this root's objects (there are none left by now).
        networks.ForgetRoot();
        Console.WriteLine($"Removed the state of {root}");
        return 0;
    }

    /// <summary>Deletes what minidocker made under the root, then the root if that leaves it empty. Refused while
    /// anything under the root is mounted: a recursive delete would descend into an image's overlay or a bind mount.</summary>
    private static void RemoveState(string root)
    {
        string prefix = root.TrimEnd('/') + "/";
        var mounted = File.ReadLines("/proc/self/mountinfo")
            .Select(l => l.Split(' '))
            .Where(f => f.Length > 4)
            .Select(f => f[4].Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\"))
            .Where(m => m.StartsWith(prefix, StringComparison.Ordinal))
            .ToList();
        if (mounted.Count > 0)
            throw new ContainerException($"system reset: {mounted[0]} is still mounted; the state of {root} is kept");
        foreach (string name in StateEntries)
        {
            string path = Path.Combine(root, name);
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
            else if (File.Exists(path)) File.Delete(path);
        }
        if (!Directory.EnumerateFileSystemEntries(root).Any()) Directory.Delete(root);
        else Console.Error.WriteLine($"minidocker: {root} is kept: it holds files minidocker did not make");
    }
}
