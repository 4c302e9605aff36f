//! Procedural macros of forkrt: `#[forkrt::task]` and `#[forkrt::main]`.
//!
//! Use them through the `forkrt` crate (`#[forkrt::task]`), not directly:
//! the generated code refers to `::forkrt`.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, ReturnType, Type};

fn error(span: Span, message: &str) -> TokenStream {
    syn::Error::new(span, message).to_compile_error().into()
}

/// Registers a one-argument function as a forkrt task. See `forkrt::task`.
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return error(
            TokenStream2::from(attr).span(),
            "#[forkrt::task] takes no arguments",
        );
    }
    let func = match syn::parse::<ItemFn>(item) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error().into(),
    };
    match expand_task(&func) {
        Ok(tokens) => tokens.into(),
        Err(e) => {
            // Keep the function so that its uses do not add a second error.
            let mut out = e.to_compile_error();
            out.extend(quote!(#func));
            out.into()
        }
    }
}

fn expand_task(func: &ItemFn) -> syn::Result<TokenStream2> {
    let sig = &func.sig;
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a #[forkrt::task] cannot be generic: spawn and forkserver children look tasks up \
             by name, so the argument type must be concrete",
        ));
    }
    if let Some(a) = &sig.asyncness {
        return Err(syn::Error::new(
            a.span(),
            "a #[forkrt::task] cannot be async",
        ));
    }
    if let Some(v) = &sig.variadic {
        return Err(syn::Error::new(
            v.span(),
            "a #[forkrt::task] cannot be variadic",
        ));
    }
    let args: Vec<&FnArg> = sig.inputs.iter().collect();
    let arg_ty: &Type = match args.as_slice() {
        [FnArg::Typed(pt)] => &pt.ty,
        [FnArg::Receiver(r)] => {
            return Err(syn::Error::new(
                r.span(),
                "a #[forkrt::task] must be a free function, not a method",
            ));
        }
        _ => {
            return Err(syn::Error::new(
                sig.paren_token.span.join(),
                "a #[forkrt::task] takes exactly one argument: use a tuple for several \
                 (`fn work(args: (u32, String))`) and `_: ()` for none",
            ));
        }
    };
    let ret_ty: Type = match &sig.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) if matches!(&**ty, Type::ImplTrait(_)) => {
            return Err(syn::Error::new(
                ty.span(),
                "a #[forkrt::task] must name its return type (a value a Pool sends back): \
                 `impl Trait` cannot cross a process boundary; return a concrete type",
            ));
        }
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let ident = &sig.ident;
    let name = ident.to_string();
    let entry = format_ident!("__FORKRT_TASK_{}", name.to_uppercase());
    // `quote_spanned!` at the argument type makes type errors point there.
    let codec = quote_spanned!(arg_ty.span()=> ::forkrt::__private::Codec::<#arg_ty>::new());
    let many_codec = quote_spanned!(arg_ty.span()=>
        ::forkrt::__private::Codec::<::std::vec::Vec<#arg_ty>>::new());
    let results_codec = quote_spanned!(ret_ty.span()=>
        ::forkrt::__private::Codec::<
            ::std::vec::Vec<::core::result::Result<#ret_ty, ::std::string::String>>,
        >::new());
    Ok(quote! {
        #func

        #[doc(hidden)]
        #[allow(non_upper_case_globals, non_snake_case, clippy::all)]
        const _: () = {
            fn __forkrt_fn_type_id() -> ::core::any::TypeId {
                ::forkrt::__private::type_id_of_val(&#ident)
            }
            fn __forkrt_arg_type_id() -> ::core::any::TypeId {
                ::core::any::TypeId::of::<#arg_ty>()
            }
            fn __forkrt_arg_type_name() -> &'static str {
                ::core::any::type_name::<#arg_ty>()
            }
            fn __forkrt_encode(
                value: &dyn ::core::any::Any,
            ) -> ::forkrt::Result<::std::vec::Vec<u8>> {
                #[allow(unused_imports)]
                use ::forkrt::__private::{NoCodec as _, SerdeCodec as _};
                let Some(value) = value.downcast_ref::<#arg_ty>() else {
                    return ::core::result::Result::Err(::forkrt::Error::NotSerializable {
                        type_name: ::core::any::type_name::<#arg_ty>(),
                    });
                };
                (&&#codec).encode_args(#name, value)
            }
            fn __forkrt_decode(
                bytes: &[u8],
            ) -> ::forkrt::Result<::std::boxed::Box<dyn ::core::ops::FnOnce()>> {
                #[allow(unused_imports)]
                use ::forkrt::__private::{NoCodec as _, SerdeCodec as _};
                let value: #arg_ty = (&&#codec).decode_args(#name, bytes)?;
                // A Process discards the result (its exit code is the outcome).
                ::core::result::Result::Ok(::std::boxed::Box::new(move || {
                    let _ = #ident(value);
                }))
            }
            fn __forkrt_encode_many(
                values: &dyn ::core::any::Any,
            ) -> ::forkrt::Result<::std::vec::Vec<u8>> {
                #[allow(unused_imports)]
                use ::forkrt::__private::{NoCodec as _, SerdeCodec as _};
                let Some(values) = values.downcast_ref::<::std::vec::Vec<#arg_ty>>() else {
                    return ::core::result::Result::Err(::forkrt::Error::NotSerializable {
                        type_name: ::core::any::type_name::<#arg_ty>(),
                    });
                };
                (&&#many_codec).encode_args(#name, values)
            }
            fn __forkrt_call_many(bytes: &[u8]) -> ::forkrt::Result<::std::vec::Vec<u8>> {
                #[allow(unused_imports)]
                use ::forkrt::__private::{NoCodec as _, SerdeCodec as _};
                let values: ::std::vec::Vec<#arg_ty> = (&&#many_codec).decode_args(#name, bytes)?;
                let results: ::std::vec::Vec<
                    ::core::result::Result<#ret_ty, ::std::string::String>,
                > = values
                    .into_iter()
                    .map(|value| ::forkrt::__private::catch_panic(move || #ident(value)))
                    .collect();
                (&&#results_codec).encode_args(#name, &results)
            }
            fn __forkrt_decode_many(
                bytes: &[u8],
            ) -> ::forkrt::Result<::std::boxed::Box<dyn ::core::any::Any>> {
                #[allow(unused_imports)]
                use ::forkrt::__private::{NoCodec as _, SerdeCodec as _};
                let r: ::std::vec::Vec<::core::result::Result<#ret_ty, ::std::string::String>> =
                    (&&#results_codec).decode_args(#name, bytes)?;
                ::core::result::Result::Ok(::std::boxed::Box::new(r))
            }
            fn __forkrt_ret_type_id() -> ::core::any::TypeId {
                ::core::any::TypeId::of::<#ret_ty>()
            }
            #[::forkrt::__private::linkme::distributed_slice(::forkrt::__private::TASKS)]
            #[linkme(crate = ::forkrt::__private::linkme)]
            static #entry: ::forkrt::__private::TaskEntry = ::forkrt::__private::TaskEntry {
                name: ::core::concat!(::core::module_path!(), "::", #name),
                site: ::core::concat!(
                    ::core::file!(), ":", ::core::line!(), ":", ::core::column!()
                ),
                fn_type_id: __forkrt_fn_type_id,
                arg_type_id: __forkrt_arg_type_id,
                arg_type_name: __forkrt_arg_type_name,
                encode: __forkrt_encode,
                decode: __forkrt_decode,
                encode_many: __forkrt_encode_many,
                call_many: __forkrt_call_many,
                decode_many: __forkrt_decode_many,
                ret_type_id: __forkrt_ret_type_id,
            };
        };
    })
}

/// Makes `main` the forkrt entry guard. See `forkrt::main`.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return error(
            TokenStream2::from(attr).span(),
            "#[forkrt::main] takes no arguments",
        );
    }
    let mut func = match syn::parse::<ItemFn>(item) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error().into(),
    };
    let guard: syn::Stmt = syn::parse_quote!(::forkrt::init(););
    func.block.stmts.insert(0, guard);
    quote!(#func).into()
}
