using System.CommandLine;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker system prune [-f]`: removes stopped containers, cleans up crashed ones (their network
/// attachment included) and the half-made directories of runs killed while creating.</summary>
public static class SystemCommand
{
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
            // root edited by hand): endpoints, addresses and rules of containers that do not exist.
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
        return new Command("system", "Manage minidocker") { prune };
    }
}
