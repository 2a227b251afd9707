//! `#[tollgate_sdk::plugin]`: exports an `impl Plugin for T` as a Tollgate component.
//! Use it through `tollgate-sdk`, which re-exports it.

use proc_macro::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Ident, ImplItem, ItemImpl, parse_macro_input};

/// Exports an `impl tollgate_sdk::Plugin for T` as the component's world.
///
/// The world follows from the hooks the impl defines: `authorize` makes an authorizer,
/// `handle` a function, anything else a filter. Name it to be explicit:
/// `#[plugin(filter)]`, `#[plugin(authorizer)]`, `#[plugin(function)]`.
#[proc_macro_attribute]
pub fn plugin(attr: TokenStream, item: TokenStream) -> TokenStream {
    let imp = parse_macro_input!(item as ItemImpl);
    let explicit = if attr.is_empty() {
        None
    } else {
        Some(parse_macro_input!(attr as Ident))
    };
    match expand(explicit, &imp) {
        Ok(tokens) => tokens.into(),
        Err(e) => {
            let e = e.to_compile_error();
            quote!(#imp #e).into()
        }
    }
}

fn expand(explicit: Option<Ident>, imp: &ItemImpl) -> syn::Result<proc_macro2::TokenStream> {
    let Some((_, path, _)) = &imp.trait_ else {
        return Err(syn::Error::new(
            imp.span(),
            "#[plugin] goes on `impl tollgate_sdk::Plugin for YourType`",
        ));
    };
    if path.segments.last().is_none_or(|s| s.ident != "Plugin") {
        return Err(syn::Error::new(
            path.span(),
            "#[plugin] goes on an impl of `tollgate_sdk::Plugin`",
        ));
    }
    let defined: Vec<String> = imp
        .items
        .iter()
        .filter_map(|i| match i {
            ImplItem::Fn(f) => Some(f.sig.ident.to_string()),
            _ => None,
        })
        .collect();
    let has = |name: &str| defined.iter().any(|d| d == name);
    let world = match &explicit {
        Some(w) => w.to_string(),
        None => match (has("authorize"), has("handle")) {
            (true, true) => {
                return Err(syn::Error::new(
                    imp.span(),
                    "a plugin is one world: define `authorize` (authorizer) or `handle` \
                     (function), not both",
                ));
            }
            (true, false) => "authorizer".into(),
            (false, true) => "function".into(),
            (false, false) => "filter".into(),
        },
    };
    let span = explicit.as_ref().map_or_else(|| imp.span(), Ident::span);
    let export = match world.as_str() {
        "filter" => quote!(::tollgate_sdk::__export_filter!),
        "authorizer" => quote!(::tollgate_sdk::__export_authorizer!),
        "function" => quote!(::tollgate_sdk::__export_function!),
        other => {
            return Err(syn::Error::new(
                span,
                format!("unknown world `{other}`: use filter, authorizer or function"),
            ));
        }
    };
    let unused: &[&str] = match world.as_str() {
        "filter" => &["authorize", "handle"],
        "authorizer" => &["on_request", "on_response", "handle"],
        _ => &["on_request", "on_response", "authorize"],
    };
    if let Some(hook) = unused.iter().find(|h| has(h)) {
        return Err(syn::Error::new(
            span,
            format!("`{hook}` is never called in a {world} plugin"),
        ));
    }
    let ty = &imp.self_ty;
    Ok(quote! {
        #imp
        #export(#ty);
    })
}
