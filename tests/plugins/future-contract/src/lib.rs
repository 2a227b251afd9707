//! A plugin built against a future major version of the contract: the host must refuse it
//! with a clear message.

wit_bindgen::generate!({
    inline: r#"
        package tollgate:plugin@1.0.0;
        interface types {
            resource request { method: func() -> string; }
        }
        world filter {
            import types;
            use types.{request};
            export init: func(config: string) -> result<_, string>;
            export on-request: func(req: borrow<request>) -> u32;
        }
    "#,
});

struct Future;

impl Guest for Future {
    fn init(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn on_request(req: &tollgate::plugin::types::Request) -> u32 {
        req.method().len() as u32
    }
}

export!(Future);
