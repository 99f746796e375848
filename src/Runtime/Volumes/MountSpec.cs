using System.Text.Json.Serialization;

namespace MiniDocker.Runtime.Volumes;

public enum MountType { Bind, Volume, Tmpfs }

/// <summary>
/// One mount of a container (-v, --mount, --tmpfs, or the --init binary), stored in config.json. <see cref="Source"/>
/// is the host path for a bind and the volume's name for a volume until <see cref="VolumeStore.Prepare"/> resolves it;
/// <see cref="HostPath"/> is what the init mounts.
/// </summary>
public sealed class MountSpec
{
    [JsonConverter(typeof(JsonStringEnumConverter<MountType>))]
    public MountType Type { get; set; }
    public string Source { get; set; } = "";
    public string Target { get; set; } = "";
    public bool ReadOnly { get; set; }
    /// <summary>-v without a source: a volume with a generated name, removed by `rm -v` and `run --rm`.</summary>
    public bool Anonymous { get; set; }
    /// <summary>volume-nocopy / :nocopy: a new volume is not filled from the image.</summary>
    public bool NoCopy { get; set; }
    /// <summary>-v creates a missing bind source (Docker's legacy behaviour); --mount refuses it.</summary>
    public bool CreateMissingSource { get; set; }
    /// <summary>Docker's "Mode" column of inspect: the -v mode string as given ("", "ro", "z"...).</summary>
    public string Mode { get; set; } = "";
    public string Propagation { get; set; } = "rprivate";
    /// <summary>tmpfs: mount flags (MS_*) and the data string (size=, mode=...).</summary>
    public ulong TmpfsFlags { get; set; }
    public string TmpfsData { get; set; } = "";
    /// <summary>--tmpfs (Docker shows it in HostConfig.Tmpfs, not in Mounts).</summary>
    public bool FromTmpfsFlag { get; set; }
    /// <summary>The path the init mounts from: the bind source, or the volume's _data directory.</summary>
    public string HostPath { get; set; } = "";

    [JsonIgnore] public bool IsVolume => Type == MountType.Volume;
}
