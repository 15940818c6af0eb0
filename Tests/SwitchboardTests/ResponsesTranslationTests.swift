import Foundation
import SwitchboardCore
import Testing
@testable import SwitchboardProviders

/// OpenAI Responses requests → chat completions (`ResponsesToChat`).
@Suite struct ResponsesTranslationRequestTests {
    func translate(_ json: String) throws(GatewayError) -> JSONValue {
        try ResponsesToChat.request(JSONValue.parse(Data(json.utf8)) ?? .null)
    }

    @Test func everyInputKindAndField() throws {
        let chat = try translate(#"""
        {"model":"chat","instructions":"Be terse.","max_output_tokens":300,"temperature":0.7,"top_p":0.9,"user":"u-1",
         "metadata":{"team":"a"},"store":true,"previous_response_id":"resp_0","stream":true,"parallel_tool_calls":false,
         "reasoning":{"effort":"high","summary":"auto"},
         "text":{"format":{"type":"json_schema","name":"weather","schema":{"type":"object"},"strict":true},"verbosity":"low"},
         "input":[
          {"role":"developer","content":"Use metric units."},
          {"type":"message","role":"user","content":[{"type":"input_text","text":"Weather here?"},
                                                    {"type":"input_image","image_url":"https://example.com/sky.jpg","detail":"low"}]},
          {"type":"reasoning","id":"rs_1","summary":[]},
          {"type":"message","role":"assistant","id":"msg_1","status":"completed","content":[{"type":"output_text","text":"Checking.","annotations":[]}]},
          {"type":"function_call","call_id":"call_a","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
          {"type":"function_call","call_id":"call_b","name":"get_weather","arguments":"{\"city\":\"Rome\"}"},
          {"type":"function_call_output","call_id":"call_a","output":"18C"},
          {"type":"function_call_output","call_id":"call_b","output":[{"type":"input_text","text":"24C"},{"type":"input_text","text":"sunny"}]},
          {"type":"function_call","call_id":"call_c","name":"get_time","arguments":"{}"},
          {"type":"function_call_output","call_id":"call_c","output":"noon"},
          {"role":"system","content":[{"type":"input_text","text":"Cite sources."}]},
          {"role":"user","content":[{"type":"input_file","filename":"a.pdf","file_data":"data:application/pdf;base64,JVBE"}]},
          {"role":"assistant","content":[{"type":"refusal","refusal":"I can't."}]},
          {"role":"user","content":"Thanks"}],
         "tools":[{"type":"function","name":"get_weather","description":"Weather by city","parameters":{"type":"object"},"strict":true},
                  {"type":"function","name":"get_time"}],
         "tool_choice":"required"}
        """#)
        #expect(chat["model"] == nil)
        #expect(chat["max_completion_tokens"] == 300 && chat["temperature"] == .double(0.7) && chat["top_p"] == .double(0.9))
        #expect(chat["user"] == "u-1" && chat["metadata"] == nil && chat["store"] == nil && chat["previous_response_id"] == nil)
        #expect(chat["reasoning_effort"] == "high")
        #expect(chat["response_format"] == ["type": "json_schema", "json_schema": ["name": "weather", "schema": ["type": "object"], "strict": true]])
        #expect(chat["stream"] == true && chat["stream_options"] == ["include_usage": true])
        #expect(chat["tools"] == [
            ["type": "function", "function": ["name": "get_weather", "description": "Weather by city", "parameters": ["type": "object"], "strict": true]],
            ["type": "function", "function": ["name": "get_time"]],
        ])
        #expect(chat["tool_choice"] == "required" && chat["parallel_tool_calls"] == false)
        let m = try #require(chat["messages"]?.array)
        #expect(m.map { $0["role"]?.string } == ["system", "system", "user", "assistant", "tool", "tool", "assistant", "tool", "system", "user", "assistant", "user"])
        #expect(m[0] == ["role": "system", "content": "Be terse."])
        #expect(m[1] == ["role": "system", "content": "Use metric units."])
        #expect(m[2]["content"] == [["type": "text", "text": "Weather here?"],
                                    ["type": "image_url", "image_url": ["url": "https://example.com/sky.jpg", "detail": "low"]]])
        // The assistant's text and the calls after it are one message; the reasoning item is gone.
        #expect(m[3] == ["role": "assistant", "content": "Checking.", "tool_calls": [
            ["id": "call_a", "type": "function", "function": ["name": "get_weather", "arguments": #"{"city":"Paris"}"#]],
            ["id": "call_b", "type": "function", "function": ["name": "get_weather", "arguments": #"{"city":"Rome"}"#]]]])
        #expect(m[4] == ["role": "tool", "tool_call_id": "call_a", "content": "18C"])
        #expect(m[5] == ["role": "tool", "tool_call_id": "call_b", "content": "24C\nsunny"])
        #expect(m[6] == ["role": "assistant", "content": nil, "tool_calls": [
            ["id": "call_c", "type": "function", "function": ["name": "get_time", "arguments": "{}"]]]])
        #expect(m[8] == ["role": "system", "content": "Cite sources."])
        #expect(m[9]["content"] == [["type": "file", "file": ["filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"]]])
        #expect(m[10] == ["role": "assistant", "content": "", "refusal": "I can't."])
        #expect(m[11] == ["role": "user", "content": "Thanks"])
    }

    @Test func stringInputAndDefaults() throws {
        let chat = try translate(#"{"model":"m","input":"hi","tool_choice":"auto","parallel_tool_calls":true,"stream":false}"#)
        #expect(chat == ["messages": [["role": "user", "content": "hi"]]])
        let onlyInstructions = try translate(#"{"instructions":"S","input":[]}"#)
        #expect(onlyInstructions == ["messages": [["role": "system", "content": "S"]]])
    }

    @Test(arguments: [
        (#""none""#, JSONValue("none"), ["f", "g"]),
        (#"{"type":"function","name":"g"}"#, ["type": "function", "function": ["name": "g"]], ["f", "g"]),
        (#"{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"g"}]}"#, "required", ["g"]),
    ] as [(String, JSONValue, [String])])
    func toolChoices(_ choice: String, _ expected: JSONValue, _ sent: [String]) throws {
        let chat = try translate(#"{"input":"x","tools":[{"type":"function","name":"f"},{"type":"function","name":"g"}],"tool_choice":\#(choice)}"#)
        #expect(chat["tool_choice"] == expected)
        #expect(chat["tools"]?.array?.compactMap { $0["function"]?["name"]?.string } == sent)
    }

    @Test func textFormats() throws {
        #expect(try translate(#"{"input":"x","text":{"format":{"type":"json_object"}}}"#)["response_format"] == ["type": "json_object"])
        #expect(try translate(#"{"input":"x","text":{"format":{"type":"text"}}}"#)["response_format"] == nil)
        #expect(try translate(#"{"input":"x","text":{"verbosity":"high"}}"#)["response_format"] == nil)
        // Without tools, nothing about tools is sent (chat completions refuse tool_choice alone).
        let noTools = try translate(#"{"input":"x","tool_choice":"none","parallel_tool_calls":false}"#)
        #expect(noTools["tool_choice"] == nil && noTools["parallel_tool_calls"] == nil)
    }

    @Test(arguments: ["web_search", "web_search_preview", "file_search", "computer_use_preview", "code_interpreter", "image_generation", "mcp", "local_shell", "custom"])
    func builtInToolsAre400NamingTheTool(_ type: String) {
        do {
            _ = try translate(#"{"input":"x","tools":[{"type":"function","name":"f"},{"type":"\#(type)"}]}"#)
            Issue.record("translated a \(type) tool")
        } catch {
            #expect(error.status == 400 && error.param == "tools[1].type")
            #expect(error.message.contains("'\(type)'"))
        }
    }

    @Test(arguments: [
        (#"[1]"#, "body"),
        (#"{"model":"m"}"#, "input"),
        (#"{"input":{"role":"user"}}"#, "input"),
        (#"{"input":["hi"]}"#, "input[0]"),
        (#"{"input":[{"content":"x"}]}"#, "input[0].type"),
        (#"{"input":[{"role":"tool","content":"x"}]}"#, "input[0].role"),
        (#"{"input":[{"role":"user"}]}"#, "input[0].content"),
        (#"{"input":[{"role":"user","content":7}]}"#, "input[0].content"),
        (#"{"input":"x","instructions":5}"#, "instructions"),
        (#"{"input":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"input_text","text":"b"},{"type":"input_audio"}]}]}"#, "input[1].content[1].type"),
        (#"{"input":[{"role":"user","content":[{"type":"input_image","file_id":"file-1"}]}]}"#, "input[0].content[0].file_id"),
        (#"{"input":[{"role":"user","content":[{"type":"input_image","detail":"auto"}]}]}"#, "input[0].content[0].image_url"),
        (#"{"input":[{"role":"user","content":[{"type":"input_file","file_id":"file-1"}]}]}"#, "input[0].content[0].file_id"),
        (#"{"input":[{"role":"assistant","content":[{"type":"input_image","image_url":"https://x"}]}]}"#, "input[0].content[0].type"),
        (#"{"input":[{"role":"system","content":[{"type":"input_image","image_url":"https://x"}]}]}"#, "input[0].content[0].type"),
        (#"{"input":[{"role":"user","content":[{"type":"input_text","text":3}]}]}"#, "input[0].content[0].text"),
        (#"{"input":[{"type":"function_call","name":"f","arguments":"{}"}]}"#, "input[0].call_id"),
        (#"{"input":[{"type":"function_call","call_id":"c","name":"f","arguments":{"a":1}}]}"#, "input[0].arguments"),
        (#"{"input":[{"type":"function_call_output","call_id":"c"}]}"#, "input[0].output"),
        (#"{"input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"https://x"}]}]}"#, "input[0].output[0].type"),
        (#"{"input":[{"type":"item_reference","id":"msg_1"}]}"#, "input[0].type"),
        (#"{"input":[{"type":"web_search_call","id":"ws_1"}]}"#, "input[0].type"),
        (#"{"input":"x","tools":{"type":"function"}}"#, "tools"),
        (#"{"input":"x","tools":[{"type":"function"}]}"#, "tools[0].name"),
        (#"{"input":"x","tools":[{"name":"f"}]}"#, "tools[0].type"),
        (#"{"input":"x","tools":[{"type":"function","name":"f","parameters":"{}"}]}"#, "tools[0].parameters"),
        (#"{"input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"file_search"}}"#, "tool_choice.type"),
        (#"{"input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":"sometimes"}"#, "tool_choice"),
        (#"{"input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function"}}"#, "tool_choice.name"),
        (#"{"input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"mcp"}]}}"#, "tool_choice.tools[0]"),
        (#"{"input":"x","text":{"format":{"type":"xml"}}}"#, "text.format.type"),
        (#"{"input":"x","text":{"format":{"type":"json_schema","schema":{}}}}"#, "text.format.name"),
        (#"{"input":"x","text":{"format":{"type":"json_schema","name":"n"}}}"#, "text.format.schema"),
        (#"{"input":"x","text":"json"}"#, "text"),
        (#"{"input":"x","max_output_tokens":0}"#, "max_output_tokens"),
        (#"{"input":"x","max_output_tokens":"ten"}"#, "max_output_tokens"),
        (#"{"input":"x","temperature":3}"#, "temperature"),
        (#"{"input":"x","top_p":"high"}"#, "top_p"),
        (#"{"input":"x","metadata":{"a":1}}"#, "metadata.a"),
        (#"{"input":"x","reasoning":"high"}"#, "reasoning"),
        (#"{"input":"x","reasoning":{"effort":3}}"#, "reasoning.effort"),
        (#"{"input":"x","stream":"yes"}"#, "stream"),
        (#"{"input":"x","user":42}"#, "user"),
        (#"{"input":"x","prompt":{"id":"pmpt_1"}}"#, "prompt"),
    ])
    func malformedFieldsAre400WithTheirPath(_ json: String, _ param: String) {
        do {
            _ = try translate(json)
            Issue.record("translated \(json)")
        } catch {
            #expect(error.status == 400)
            #expect(error.param == param, "\(json): \(error.message)")
        }
    }
}
