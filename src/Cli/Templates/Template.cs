using System.Text;
using System.Text.Json.Nodes;

namespace MiniDocker.Cli.Templates;

/// <summary>
/// A Go text/template, as Docker's CLI uses them for --format: parsed once, then run over each object's JSON.
/// Fields (.A.B, $, $x.A), variables, pipelines, if/else if/else, range (with break/continue), with, and the
/// functions of <see cref="Functions"/>; written in C# over System.Text.Json nodes (no reflection).
/// </summary>
public sealed class Template
{
    private readonly string _text;
    private readonly ListNode _root;

    private Template(string text, ListNode root)
    {
        _text = text;
        _root = root;
    }

    /// <exception cref="TemplateException">the text is not a valid template (Go's message: "template: :1: ...")</exception>
    public static Template Parse(string text) => new(text, Parser.Parse(text, Functions.Names));

    /// <exception cref="TemplateException">a field is missing, a function fails...</exception>
    public string Execute(JsonNode? data)
    {
        var output = new StringBuilder();
        Execute(output, data);
        return output.ToString();
    }

    /// <summary>Appends the output to <paramref name="output"/> as it is made: after an error, what came before it is there.</summary>
    /// <param name="header">a table's header row: <paramref name="data"/> maps each field to its column's name, and the
    /// functions that would change a name leave it alone (Docker's HeaderFunctions)</param>
    public void Execute(StringBuilder output, JsonNode? data, bool header = false) =>
        new Executor(_text, output, header ? Functions.Header : Functions.Standard, header).Run(_root, Values.FromNode(data));
}
