using System.CommandLine;
using MiniDocker.Runtime;

namespace MiniDocker.Cli;

/// <summary>Options every verb understands, and the subsystems a verb needs, built from them.</summary>
public static class Globals
{
    public static readonly Option<string?> Root = new("--root")
    {
        Description = "Directory for all state (default: $MINIDOCKER_ROOT or /var/lib/minidocker)",
        Recursive = true,
    };

    public static string StateRoot(ParseResult p)
    {
        string root = p.GetValue(Root) ?? Environment.GetEnvironmentVariable("MINIDOCKER_ROOT") ?? "/var/lib/minidocker";
        root = Path.GetFullPath(root);
        Directory.CreateDirectory(root);
        return root;
    }

    public static ContainerStore Containers(ParseResult p) => new(StateRoot(p));

    /// <summary>The hooks `run` wires in at "created, not yet started".</summary>
    public static IReadOnlyList<IContainerHook> Hooks(ParseResult p) => [];

    public static Launcher Launcher(ParseResult p) => new(Containers(p), Hooks(p));
}
