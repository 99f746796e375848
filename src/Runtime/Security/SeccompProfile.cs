using System.Text.Json;
using System.Text.Json.Serialization;

namespace MiniDocker.Runtime.Security;

/// <summary>
/// A seccomp profile in Docker's JSON format (moby's profiles/seccomp, which Podman's
/// /usr/share/containers/seccomp.json also uses): a default action, the architectures to filter, and rules that
/// apply only for some capabilities, architectures or kernels.
/// </summary>
public sealed class SeccompProfile
{
    public string DefaultAction { get; set; } = "";
    public uint? DefaultErrnoRet { get; set; }
    public List<SeccompArchMap>? ArchMap { get; set; }
    /// <summary>The older flat form of <see cref="ArchMap"/>: every architecture listed is filtered.</summary>
    public List<string>? Architectures { get; set; }
    public List<SeccompSyscallRule>? Syscalls { get; set; }
}

public sealed class SeccompArchMap
{
    public string Architecture { get; set; } = "";
    public List<string>? SubArchitectures { get; set; }
}

public sealed class SeccompSyscallRule
{
    /// <summary>The older single-name form of <see cref="Names"/>.</summary>
    public string? Name { get; set; }
    public List<string>? Names { get; set; }
    public string Action { get; set; } = "";
    public uint? ErrnoRet { get; set; }
    public List<SeccompArg>? Args { get; set; }
    public SeccompCondition? Includes { get; set; }
    public SeccompCondition? Excludes { get; set; }

    [JsonIgnore] public IEnumerable<string> AllNames => (Names ?? []).Concat(Name is null ? [] : [Name]);
}

public sealed class SeccompArg
{
    public uint Index { get; set; }
    public ulong Value { get; set; }
    public ulong ValueTwo { get; set; }
    public string Op { get; set; } = "";
}

/// <summary>When a rule applies: <c>includes</c> needs all of <see cref="Caps"/>, one of <see cref="Arches"/> and
/// at least <see cref="MinKernel"/>; <c>excludes</c> drops the rule on any of its caps or arches.</summary>
public sealed class SeccompCondition
{
    public List<string>? Caps { get; set; }
    public List<string>? Arches { get; set; }
    public string? MinKernel { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(SeccompProfile))]
internal sealed partial class SeccompJson : JsonSerializerContext;
