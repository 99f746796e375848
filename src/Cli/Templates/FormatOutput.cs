using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MiniDocker.Cli.Templates;

/// <summary>
/// What a verb's --format / -f does with its objects, as Docker's CLI does it. Everything is rendered before anything is
/// written: a template error prints one line on stderr, nothing on stdout, and gives exit status 125.
/// </summary>
public static class FormatOutput
{
    public const int TemplateErrorExitCode = 125;

    /// <summary>
    /// A listing verb (ps, images, network ls): <paramref name="format"/> is null/"" or "table" (the default table),
    /// "json" (one compact JSON object a line), "table TEMPLATE" (a header row of column names, then one row per
    /// object, aligned as Docker's tabwriter), or TEMPLATE (one line per object). "\t" and "\n" typed as two characters
    /// are a tab and a newline, as in Docker.
    /// </summary>
    /// <param name="rows">one JSON object per listed thing; its keys are the template's fields</param>
    /// <param name="defaultTable">the verb's default, e.g. "table {{.ID}}\t{{.Names}}"</param>
    /// <param name="headers">field -> column name, e.g. ID -> "CONTAINER ID" (<see cref="DockerHeaders"/>)</param>
    /// <returns>the exit status: 0, or <see cref="TemplateErrorExitCode"/> after printing the error</returns>
    public static int List(string? format, IReadOnlyList<JsonObject> rows, string defaultTable,
        IReadOnlyDictionary<string, string> headers, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        try
        {
            stdout.Write(RenderList(format, rows, defaultTable, headers));
            return 0;
        }
        catch (TemplateException e)
        {
            stderr.WriteLine($"minidocker: template parsing error: {e.Message}");
            return TemplateErrorExitCode;
        }
    }

    /// <summary>The text <see cref="List"/> prints.</summary>
    /// <exception cref="TemplateException">the template does not parse, or fails on a row</exception>
    public static string RenderList(string? format, IReadOnlyList<JsonObject> rows, string defaultTable,
        IReadOnlyDictionary<string, string> headers)
    {
        if (string.IsNullOrEmpty(format) || format == "table") format = defaultTable;
        bool table = false;
        string body;
        if (format.Trim() == "json") body = "{{json .}}";
        else if (format.StartsWith("table", StringComparison.Ordinal))
        {
            table = true;
            body = format["table".Length..];
        }
        else body = format;
        body = body.Trim(' ').Replace("\\t", "\t").Replace("\\n", "\n");
        var template = Template.Parse(body);

        var output = new StringBuilder();
        foreach (var row in rows)
        {
            template.Execute(output, row);
            output.Append('\n');
        }
        if (!table) return output.ToString();

        var names = new JsonObject();
        foreach (var (field, name) in headers) names[field] = name;
        var header = new StringBuilder();
        // As Docker: the header row is the template run over the column names; an error there just ends the row.
        try { template.Execute(header, names, header: true); }
        catch (TemplateException) { }
        return TabWriter.Align(header.Append('\n').Append(output).ToString());
    }

    /// <summary>
    /// An inspect verb: no format (or "json") prints the objects as an indented JSON array, as Docker does; a
    /// template prints one line per object. No "\t" translation here: Docker's inspect has none either.
    /// </summary>
    /// <returns>the exit status: 0, or <see cref="TemplateErrorExitCode"/> after printing the error</returns>
    public static int Inspect(string? format, IReadOnlyList<JsonNode> objects, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        try
        {
            stdout.Write(RenderInspect(format, objects));
            return 0;
        }
        catch (TemplateException e)
        {
            stderr.WriteLine($"minidocker: template parsing error: {e.Message}");
            return TemplateErrorExitCode;
        }
    }

    /// <summary>The text <see cref="Inspect"/> prints.</summary>
    /// <exception cref="TemplateException">the template does not parse, or fails on an object</exception>
    public static string RenderInspect(string? format, IReadOnlyList<JsonNode> objects)
    {
        if (string.IsNullOrEmpty(format) || format == "json")
        {
            using var ms = new MemoryStream();
            using (var writer = new Utf8JsonWriter(ms, new JsonWriterOptions
            { Indented = true, IndentSize = 4, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            {
                writer.WriteStartArray();
                foreach (var o in objects) o.WriteTo(writer);
                writer.WriteEndArray();
            }
            return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
        }
        var template = Template.Parse(format);
        var output = new StringBuilder();
        foreach (var o in objects)
        {
            template.Execute(output, o);
            output.Append('\n');
        }
        return output.ToString();
    }
}

/// <summary>Docker's column names for the fields of its listings (docker/cli formatter), for table headers.</summary>
public static class DockerHeaders
{
    public static readonly IReadOnlyDictionary<string, string> Container = new Dictionary<string, string>
    {
        ["ID"] = "CONTAINER ID", ["Names"] = "NAMES", ["Image"] = "IMAGE", ["Command"] = "COMMAND",
        ["CreatedAt"] = "CREATED AT", ["RunningFor"] = "CREATED", ["Ports"] = "PORTS", ["State"] = "STATE",
        ["Status"] = "STATUS", ["Size"] = "SIZE", ["Labels"] = "LABELS", ["Mounts"] = "MOUNTS",
        ["LocalVolumes"] = "LOCAL VOLUMES", ["Networks"] = "NETWORKS", ["Platform"] = "PLATFORM",
    };

    public static readonly IReadOnlyDictionary<string, string> Image = new Dictionary<string, string>
    {
        ["ID"] = "IMAGE ID", ["Repository"] = "REPOSITORY", ["Tag"] = "TAG", ["Digest"] = "DIGEST",
        ["CreatedSince"] = "CREATED", ["CreatedAt"] = "CREATED AT", ["Size"] = "SIZE", ["Containers"] = "CONTAINERS",
        ["SharedSize"] = "SHARED SIZE", ["UniqueSize"] = "UNIQUE SIZE", ["VirtualSize"] = "VIRTUAL SIZE",
    };

    public static readonly IReadOnlyDictionary<string, string> Network = new Dictionary<string, string>
    {
        ["ID"] = "NETWORK ID", ["Name"] = "NAME", ["Driver"] = "DRIVER", ["Scope"] = "SCOPE", ["IPv6"] = "IPV6",
        ["Internal"] = "INTERNAL", ["Labels"] = "LABELS", ["CreatedAt"] = "CREATED AT",
    };

    /// <summary>Docker's default listings.</summary>
    public const string ContainerTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
    public const string ImageTable = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
    public const string NetworkTable = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";
}
