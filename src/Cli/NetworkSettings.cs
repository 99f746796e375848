using System.Text.Json.Nodes;

namespace MiniDocker.Cli;

/// <summary>What `inspect` shows under NetworkSettings for a container, from the network subsystem.</summary>
public static class NetworkSettings
{
    public static JsonObject For(System.CommandLine.ParseResult p, string containerId) => new();
}
