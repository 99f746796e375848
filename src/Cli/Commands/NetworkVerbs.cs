using System.CommandLine;

namespace MiniDocker.Cli.Commands;

/// <summary>`minidocker network ...` and `minidocker port`.</summary>
public static class NetworkVerbs
{
    public static IEnumerable<Command> Create() => [];
}
