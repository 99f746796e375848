using System.Text.Json.Serialization;

namespace MiniDocker.Runtime;

/// <summary>What a container is: fixed at creation, stored as config.json in its directory.</summary>
public sealed class ContainerConfig
{
    public int SchemaVersion { get; set; } = 1;
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Image { get; set; } = "";
    public string ImageId { get; set; } = "";
    /// <summary>Read-only image root filesystem: the overlay's lowerdir.</summary>
    public string RootfsLower { get; set; } = "";
    public List<string> Args { get; set; } = new();
    public List<string> Env { get; set; } = new();
    public string WorkingDir { get; set; } = "/";
    public string Hostname { get; set; } = "";
    public bool Tty { get; set; }
    public bool Interactive { get; set; }
    public bool Detach { get; set; }
    public bool AutoRemove { get; set; }
    /// <summary>"none", "host", or the name of a network.</summary>
    public string NetworkMode { get; set; } = "none";
    public string? RequestedIp { get; set; }
    public List<string> Publish { get; set; } = new();
    public DateTimeOffset Created { get; set; }

    [JsonIgnore] public string ShortId => Id.Length > 12 ? Id[..12] : Id;
}

public enum ContainerStatus { Created, Running, Exited }

/// <summary>What a container is doing: rewritten over its life, stored as state.json.</summary>
public sealed class ContainerState
{
    public int SchemaVersion { get; set; } = 1;
    [JsonConverter(typeof(JsonStringEnumConverter<ContainerStatus>))]
    public ContainerStatus Status { get; set; }
    public int Pid { get; set; }
    public int MonitorPid { get; set; }
    public int ExitCode { get; set; }
    public DateTimeOffset? StartedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
    public string? Error { get; set; }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ContainerConfig))]
[JsonSerializable(typeof(ContainerState))]
internal sealed partial class RuntimeJson : JsonSerializerContext;
