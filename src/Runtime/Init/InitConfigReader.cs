using System.Text.Json;
using MiniDocker.Runtime.Cgroups;
using MiniDocker.Runtime.Security;
using MiniDocker.Runtime.Volumes;

namespace MiniDocker.Runtime.Init;

/// <summary>
/// The init's reading of config.json, with Utf8JsonReader and only the properties the init uses. The
/// source-generated deserializer first builds System.Text.Json's metadata for ContainerConfig's whole graph (type
/// infos, converters, and a reflection lookup of polymorphism attributes per type): ~6 ms of CPU in the init, on the
/// critical path of every `run` (bench/README, stop 19). The CLI still writes the file with that serializer;
/// InitConfigReaderTests holds the two together (every property is either read here or named in
/// <see cref="NotForTheInit"/>).
/// </summary>
public static class InitConfigReader
{
    /// <summary>ContainerConfig's properties (JSON names) that nothing in the init reads.</summary>
    public static readonly string[] NotForTheInit =
    [
        "schemaVersion", "name", "image", "imageId", "stopSignal", "detach", "autoRemove", "requestedIp", "publish",
        "networkOptions", "restartPolicy", "created", "resources",
    ];

    /// <summary>The JSON names this reader takes, by type (for the test).</summary>
    public static readonly string[] ConfigProperties =
    [
        "id", "rootfsLower", "rootfsLowers", "args", "env", "workingDir", "hostname", "tty", "interactive", "networkMode",
        "devices", "security", "capabilities", "privileged", "user", "groupAdd", "ulimits", "mounts", "readOnlyRootfs",
        "init", "usernsMode", "usernsSize",
    ];

    public static ContainerConfig Read(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        var config = new ContainerConfig();
        ReadObject(ref reader, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "id": config.Id = String(ref r) ?? ""; break;
                case "rootfsLower": config.RootfsLower = String(ref r) ?? ""; break;
                case "rootfsLowers": config.RootfsLowers = Strings(ref r); break;
                case "args": config.Args = Strings(ref r) ?? []; break;
                case "env": config.Env = Strings(ref r) ?? []; break;
                case "workingDir": config.WorkingDir = String(ref r) ?? "/"; break;
                case "hostname": config.Hostname = String(ref r) ?? ""; break;
                case "tty": config.Tty = r.GetBoolean(); break;
                case "interactive": config.Interactive = r.GetBoolean(); break;
                case "networkMode": config.NetworkMode = String(ref r) ?? "none"; break;
                case "devices": config.Devices = List(ref r, Device) ?? []; break;
                case "security": config.Security = r.TokenType == JsonTokenType.Null ? new() : Security(ref r); break;
                case "capabilities": config.Capabilities = Strings(ref r); break;
                case "privileged": config.Privileged = r.GetBoolean(); break;
                case "user": config.User = String(ref r); break;
                case "groupAdd": config.GroupAdd = Strings(ref r) ?? []; break;
                case "ulimits": config.Ulimits = List(ref r, Ulimit) ?? []; break;
                case "mounts": config.Mounts = List(ref r, Mount) ?? []; break;
                case "readOnlyRootfs": config.ReadOnlyRootfs = r.GetBoolean(); break;
                case "init": config.Init = r.GetBoolean(); break;
                case "usernsMode": config.UsernsMode = String(ref r); break;
                case "usernsSize": config.UsernsSize = r.GetInt32(); break;
                default: r.Skip(); break;
            }
        });
        return config;
    }

    private delegate void PropertyReader(ref Utf8JsonReader reader, string name);
    private delegate T ItemReader<out T>(ref Utf8JsonReader reader);

    /// <summary>Calls <paramref name="property"/> with the reader on each value of the object that starts here.</summary>
    private static void ReadObject(ref Utf8JsonReader reader, PropertyReader property)
    {
        if (reader.TokenType == JsonTokenType.None) reader.Read();
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException($"an object was expected, not {reader.TokenType}");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            string name = reader.GetString()!;
            reader.Read();
            property(ref reader, name);
        }
        if (reader.TokenType != JsonTokenType.EndObject) throw new JsonException($"the end of an object was expected, not {reader.TokenType}");
    }

    private static string? String(ref Utf8JsonReader reader) => reader.TokenType == JsonTokenType.Null ? null : reader.GetString();

    private static List<string>? Strings(ref Utf8JsonReader reader) => List(ref reader, (ref Utf8JsonReader r) => r.GetString()!);

    private static List<T>? List<T>(ref Utf8JsonReader reader, ItemReader<T> item)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException($"an array was expected, not {reader.TokenType}");
        var list = new List<T>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray) list.Add(item(ref reader));
        return list;
    }

    private static SecurityConfig Security(ref Utf8JsonReader reader)
    {
        var security = new SecurityConfig();
        ReadObject(ref reader, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "securityOpt": security.SecurityOpt = Strings(ref r) ?? []; break;
                case "noNewPrivileges": security.NoNewPrivileges = r.GetBoolean(); break;
                case "seccompProfile": security.SeccompProfile = String(ref r) ?? SecurityOptions.Unconfined; break;
                case "seccompFilter": security.SeccompFilter = r.TokenType == JsonTokenType.Null ? [] : r.GetBytesFromBase64(); break;
                default: r.Skip(); break;
            }
        });
        return security;
    }

    private static DeviceMapping Device(ref Utf8JsonReader reader)
    {
        var device = new DeviceMapping();
        ReadObject(ref reader, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "pathOnHost": device.PathOnHost = String(ref r) ?? ""; break;
                case "pathInContainer": device.PathInContainer = String(ref r) ?? ""; break;
                case "type": device.Type = String(ref r) ?? "c"; break;
                case "major": device.Major = r.GetInt64(); break;
                case "minor": device.Minor = r.GetInt64(); break;
                case "permissions": device.Permissions = String(ref r) ?? "rwm"; break;
                case "fileMode": device.FileMode = r.GetUInt32(); break;
                case "uid": device.Uid = r.GetUInt32(); break;
                case "gid": device.Gid = r.GetUInt32(); break;
                default: r.Skip(); break;
            }
        });
        return device;
    }

    private static Ulimit Ulimit(ref Utf8JsonReader reader)
    {
        string name = "";
        long soft = 0, hard = 0;
        ReadObject(ref reader, (ref Utf8JsonReader r, string property) =>
        {
            switch (property)
            {
                case "name": name = String(ref r) ?? ""; break;
                case "soft": soft = r.GetInt64(); break;
                case "hard": hard = r.GetInt64(); break;
                default: r.Skip(); break;
            }
        });
        return new Ulimit(name, soft, hard);
    }

    private static MountSpec Mount(ref Utf8JsonReader reader)
    {
        var mount = new MountSpec();
        ReadObject(ref reader, (ref Utf8JsonReader r, string name) =>
        {
            switch (name)
            {
                case "type":
                    mount.Type = String(ref r) switch
                    {
                        "Bind" => MountType.Bind,
                        "Volume" => MountType.Volume,
                        "Tmpfs" => MountType.Tmpfs,
                        var other => throw new JsonException($"unknown mount type \"{other}\""),
                    };
                    break;
                case "source": mount.Source = String(ref r) ?? ""; break;
                case "target": mount.Target = String(ref r) ?? ""; break;
                case "readOnly": mount.ReadOnly = r.GetBoolean(); break;
                case "anonymous": mount.Anonymous = r.GetBoolean(); break;
                case "noCopy": mount.NoCopy = r.GetBoolean(); break;
                case "createMissingSource": mount.CreateMissingSource = r.GetBoolean(); break;
                case "mode": mount.Mode = String(ref r) ?? ""; break;
                case "propagation": mount.Propagation = String(ref r) ?? "rprivate"; break;
                case "tmpfsFlags": mount.TmpfsFlags = r.GetUInt64(); break;
                case "tmpfsData": mount.TmpfsData = String(ref r) ?? ""; break;
                case "fromTmpfsFlag": mount.FromTmpfsFlag = r.GetBoolean(); break;
                case "hostPath": mount.HostPath = String(ref r) ?? ""; break;
                default: r.Skip(); break;
            }
        });
        return mount;
    }
}
